"""Streamlit components and session helpers: the only package in studio/ that imports streamlit."""
