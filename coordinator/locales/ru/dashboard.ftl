# The dashboard's messages (ru).
