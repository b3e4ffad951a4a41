"""民生指标看板: livelihood indicators for city and county governments (non-UI code)."""
