"""What several workers on one database share (issue 16): the durable inbox that keeps a
webhook message from its 200 until its turn has committed and gives each resident to one
worker at a time (inbox.py), and the channels' memory between messages in the store
(state.py). bot/app.py builds them and hands them to the channels."""
