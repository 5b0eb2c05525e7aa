"""Media: pictures fetched from feeds or uploaded, checked, and rendered to the site bucket."""
