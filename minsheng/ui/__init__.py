"""Streamlit-facing helpers: URL-bound filters, the page frame, cached data access."""
