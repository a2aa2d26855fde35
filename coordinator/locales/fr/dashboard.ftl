# The dashboard's messages (fr).
