"""What Airflow learns about pin2deal from its ``apache_airflow_provider`` entry point: the hooks and the connection
types ``hubspot``, ``pinterest_ads`` and ``pinterest_conversions`` with their form.

Declared, not imported: Airflow builds the connection form (and ``airflow providers ...``) from this dictionary
without importing a hook. Each extra field has a label, help text (``description``) and a placeholder: Airflow 3.3's
form shows a string field's ``examples`` as its suggestion, so the placeholder is there; the standard fields' are in
``ui-field-behaviour``. The hooks read the same extra keys (``HubSpotSettings.from_extra``, ``PinterestHook.extra``).
"""

from __future__ import annotations

from typing import Any

from pin2deal import __version__

TOKEN_HELP = "Masked in logs, never in XCom or the warehouse."
AD_ACCOUNT_ID = {
    "label": "Ad account id",
    "description": "The numeric id of the Pinterest ad account (Ads Manager URL: /advertiser/<id>/).",
    "schema": {"type": ["string", "null"], "pattern": "^[0-9]*$", "examples": ["549755885175"]},
}


def _secret(label: str, description: str, example: str) -> dict[str, Any]:
    return {
        "label": label,
        "description": f"{description} {TOKEN_HELP}",
        "schema": {"type": ["string", "null"], "format": "password", "examples": [example]},
    }


def _standard_fields(host: str, token: str, token_example: str) -> dict[str, Any]:
    """Host (overridable: a proxy or the sandbox), scheme and port as the hooks read them; the token as password."""
    return {
        "hidden-fields": ["login"],
        "relabeling": {"password": token, "schema": "Scheme"},
        "placeholders": {"host": host, "schema": "https", "port": "443", "password": token_example},
    }


def get_provider_info() -> dict[str, Any]:
    return {
        "package-name": "pin2deal",
        "name": "pin2deal",
        "description": "HubSpot deals and Pinterest Ads spend reconciled into CAC per campaign, ad group and pin; "
        "won deals reported to Pinterest's Conversions API.",
        "versions": [__version__],
        "integrations": [
            {"integration-name": "HubSpot", "external-doc-url": "https://developers.hubspot.com/docs/api/crm/deals"},
            {"integration-name": "Pinterest", "external-doc-url": "https://developers.pinterest.com/docs/api/v5/"},
        ],
        "hooks": [
            {"integration-name": "HubSpot", "python-modules": ["pin2deal.hooks.hubspot_api"]},
            {"integration-name": "Pinterest", "python-modules": ["pin2deal.hooks.pinterest"]},
        ],
        "operators": [
            {
                "integration-name": "HubSpot",
                "python-modules": ["pin2deal.operators.hubspot_deals", "pin2deal.operators.hubspot_sweep"],
            },
            {
                "integration-name": "Pinterest",
                "python-modules": ["pin2deal.operators.pinterest", "pin2deal.operators.pinterest_capi"],
            },
        ],
        "sensors": [{"integration-name": "Pinterest", "python-modules": ["pin2deal.sensors.pinterest"]}],
        "connection-types": [
            {
                "connection-type": "hubspot",
                "hook-class-name": "pin2deal.hooks.hubspot_api.HubSpotHook",
                "hook-name": "HubSpot",
                "ui-field-behaviour": _standard_fields("api.hubapi.com", "Private app access token", "pat-na1-..."),
                "conn-fields": {
                    "properties": {
                        "label": "Property mapping",
                        "description": "Your portal's internal names of the deal properties pin2deal reads, by role "
                        "(epik, utm_source, utm_medium, utm_campaign, utm_content, pinterest_campaign_id, "
                        "pinterest_ad_group_id, pinterest_ad_id, ads_consent, ip_address, user_agent, "
                        "legacy_deal_id, lead_event_id). A role left out reads the property of its own name "
                        "(lead_event_id: off unless mapped); an empty name switches it off.",
                        "schema": {
                            "type": ["object", "null"],
                            "examples": [{"epik": "pinterest_epik", "legacy_deal_id": "legacy_crm_deal_id"}],
                        },
                    },
                },
            },
            {
                "connection-type": "pinterest_ads",
                "hook-class-name": "pin2deal.hooks.pinterest.PinterestAdsHook",
                "hook-name": "Pinterest Ads",
                "ui-field-behaviour": _standard_fields("https://api.pinterest.com", "Access token", "pina_..."),
                "conn-fields": {
                    "ad_account_id": AD_ACCOUNT_ID,
                    "timezone": {
                        "label": "Ad account time zone",
                        "description": "The IANA name of the ad account's time zone, in which Pinterest reports "
                        "days (Ads Manager > Business settings). Without it days are read as UTC days.",
                        "schema": {"type": ["string", "null"], "examples": ["America/New_York"]},
                    },
                    "refresh_token": _secret(
                        "Refresh token",
                        "With the client id and secret, an expired access token is refreshed and the rotated pair "
                        "kept encrypted in the warehouse. Empty: the access token is used until it expires.",
                        "pinr....",
                    ),
                    "client_id": {
                        "label": "Client id",
                        "description": "Your Pinterest app's id, for the token refresh.",
                        "schema": {"type": ["string", "null"], "examples": ["1234567"]},
                    },
                    "client_secret": _secret(
                        "Client secret", "Your Pinterest app's secret, for the token refresh.", "app secret"
                    ),
                },
            },
            {
                "connection-type": "pinterest_conversions",
                "hook-class-name": "pin2deal.hooks.pinterest.PinterestConversionsHook",
                "hook-name": "Pinterest Conversions",
                "ui-field-behaviour": _standard_fields(
                    "https://api.pinterest.com", "Conversion access token", "pina_..."
                ),
                "conn-fields": {"ad_account_id": AD_ACCOUNT_ID},
            },
        ],
    }
