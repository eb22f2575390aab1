"""Helpers of the tests that drive JupyterLab and nbgrader's pages in a real browser (tests/test_browser.py)."""
