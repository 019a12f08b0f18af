"""The local Customer API: faithful to the reference, and able to misbehave on purpose."""
