"""The edge: serves the site bucket at / and routes /api/ingest/ and /api/counter/.

In compose this is nginx (nginx.conf beside this file); in the embedded stack it is the
small preview server in preview.py, with the same routes.
"""
