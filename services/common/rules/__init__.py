"""The routing rules compiled once: reading, the condition tree, the rule set and `decide`."""
