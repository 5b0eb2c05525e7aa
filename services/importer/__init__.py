"""Importer: bring a portal's archive (DedeCMS, WordPress) into Pressroom in one command."""
