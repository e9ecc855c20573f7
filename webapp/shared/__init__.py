"""Pages and pieces every signed-in area shares: stored photos, the record as shown on pages."""
