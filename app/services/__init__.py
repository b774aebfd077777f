"""Services: the app's work, called by routes with keyword-only arguments."""
