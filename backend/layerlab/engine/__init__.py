"""The engine: worker processes, the scheduler, the event hub and the store."""
