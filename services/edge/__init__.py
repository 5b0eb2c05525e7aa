"""The edge: nginx serving the site bucket at / and the public routes of both APIs.

One configuration (nginx.conf.template) for compose and for `pressroom run`; nginx.py fills
it in and starts Debian's nginx with it outside Docker.
"""
