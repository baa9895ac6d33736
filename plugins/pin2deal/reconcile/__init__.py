"""The attribution reconcile: its plan and run record around the SQL (plan), other channels' spend CSV."""
