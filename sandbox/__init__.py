"""Local emulator of the HubSpot CRM and Pinterest Ads v5 APIs that pin2deal calls.

One FastAPI app serves both APIs on one port with the real paths. A dataset directory (the format in
docs/design.md) is its world; ``sandbox.generate`` writes realistic ones.
"""
