"""pin2deal: what a closed deal costs per Pinterest campaign, ad group and pin."""
