"""The REST API service (``courtbus serve web``): ``courtbus.web.app`` under uvicorn."""
