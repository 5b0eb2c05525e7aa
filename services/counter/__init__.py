"""Counter: counts clicks on published articles and aggregates them."""
