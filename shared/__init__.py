"""Pressroom's common package: what two or more services use. Never imports a service."""
