"""One router per resource; each endpoint checks one capability and fetches through the scoped querysets."""
