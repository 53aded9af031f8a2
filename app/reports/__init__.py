"""Reports: annual declarations, the compliance report, upcoming windows and reminders (issue 7)."""
