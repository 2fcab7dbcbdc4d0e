"""The front of the library: validated requests in, images, videos and recipes out (the app and CLI call it)."""
