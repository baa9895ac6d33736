"""The knobs of the generated world: channel shares, sizes, cycle lengths, spend ranges and bad-record rates.

Kept apart from the code that draws from them so they can be read (and tuned) in one place; the tests assert
against them. Set one on ``sandbox.generate`` (``bench_pipeline`` sets ``MAX_CAMPAIGNS``) and every module of
the package sees the new value.
"""

HISTORY_DAYS = 365
PINTEREST_PAID_SHARE = 0.35
PINTEREST_ORGANIC_SHARE = 0.10
OTHER_CHANNEL_WEIGHTS = {
    "google_ads": 0.30,
    "meta_ads": 0.20,
    "organic_search": 0.20,
    "email": 0.10,
    "direct": 0.10,
    "referral": 0.05,
    "offline": 0.05,
}
AD_TRACKING_WEIGHTS = {"macros": 0.45, "utm_id": 0.10, "utm_name": 0.30, "utm_typo": 0.07, "none": 0.08}
DEALS_PER_CAMPAIGN = 100
MIN_CAMPAIGNS, MAX_CAMPAIGNS = 4, 60
TARGET_PAID_CAC = 450.0
DAILY_AD_SPEND_RANGE = (5.0, 300.0)
MEAN_DAILY_AD_SPEND_RANGE = (15.0, 150.0)
CLICK_TO_LEAD_MAX_DAYS = 7
CYCLE_DAYS = (30, 90)
WON_SHARE, LOST_SHARE = 0.35, 0.50
REP_SET_CLOSEDATE_SHARE = 0.05
OPEN_CLOSEDATE_SHARE = 0.6
EPOCH_MS_SHARE = 0.05
WHOLESALE_SHARE = 0.20
EUR_TO_USD = 1.08
# The sample CSV of other channels' spend (channel, campaign, daily USD range) written beside the dataset.
CHANNEL_SPEND_FILE = "channel_spend/other_channels.csv"
OTHER_CHANNEL_SPEND = (
    ("google", "brand_search_us", 20.0, 60.0),
    ("google", "nonbrand_sofas", 40.0, 120.0),
    ("facebook", "fb_prospecting_broad", 30.0, 90.0),
    ("instagram", "ig_retargeting_30d", 10.0, 40.0),
)
MERGED_DEAL_SHARE = 0.02
ARCHIVED_DEAL_SHARE = 0.01
MIGRATED_BEFORE_DAYS = 300
IP_UA_SHARE, IP_UA_OTHER_SHARE = 0.60, 0.15
# Web deals whose first touch is recorded (first_touch_* properties), and of those, the ones whose first touch is
# another than the last (an earlier paid click, an organic Pin before a paid click); the rest repeat the last touch.
FIRST_TOUCH_SHARE, FIRST_TOUCH_DIFFERS_SHARE = 0.40, 0.50
DEAL_CONTACT_WEIGHTS = {"none": 0.05, "one": 0.72, "two": 0.15, "repeat": 0.08}
COUNTRY_WEIGHTS = {"US": 0.72, "FR": 0.12, "DE": 0.11, "GB": 0.05}
EMAIL_MISSING_SHARE, EMAIL_MESSY_SHARE, ADDITIONAL_EMAIL_SHARE = 0.08, 0.05, 0.05
PHONE_MISSING_SHARE, MOBILE_SHARE = 0.30, 0.30
CONSENT_WEIGHTS = {None: 0.40, "granted": 0.40, "true": 0.08, "denied": 0.08, "false": 0.04}
BAD_RECORD_EVERY = 500
BAD_RECORD_KINDS = (
    "amount_with_currency",
    "amount_tbd",
    "unknown_currency",
    "won_without_closedate",
    "epik_with_spaces",
    "epik_url_encoded",
    "phone_not_a_number",
)
