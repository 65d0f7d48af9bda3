"""Analytics: the dashboard, a person's statistics, the admin analytics and their daily roll-ups."""
