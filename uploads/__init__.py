"""Photo intake and object storage, framework-free; used by the web app."""
