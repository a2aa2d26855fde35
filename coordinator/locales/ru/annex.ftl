# The annex's messages (ru).
