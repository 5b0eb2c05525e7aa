"""Site search: a static index of content-hashed shards that the render flush keeps current."""
