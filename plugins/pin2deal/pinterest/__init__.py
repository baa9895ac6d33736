"""The Pinterest Ads stage: which days to pull and how spend rows land in the warehouse (spend)."""
