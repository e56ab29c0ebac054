"""The HTTP face of LayerLab: REST routes, websockets and the static page."""
