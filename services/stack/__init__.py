"""The embedded stack: Valkey and SeaweedFS on loopback, and `pressroom run` over them."""
