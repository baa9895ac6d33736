"""pin2deal: what a closed deal costs per Pinterest campaign, ad group and pin."""

__version__ = "0.1.0"
