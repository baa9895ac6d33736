"""The HubSpot portal's fixed set-up: its property names, deal pipelines and the documents describing them
(``pipelines`` and ``properties`` of the dataset). Not drawn from a seed: every world has the same portal.
"""

from __future__ import annotations

from typing import Any

# logical name (docs/design.md) -> this portal's internal property name
PROPERTIES = {
    "epik": "pinterest_epik",
    "utm_source": "utm_source",
    "utm_medium": "utm_medium",
    "utm_campaign": "utm_campaign",
    "utm_content": "utm_content",
    "pinterest_campaign_id": "pinterest_campaign_id",
    "pinterest_ad_group_id": "pinterest_ad_group_id",
    "pinterest_ad_id": "pinterest_ad_id",
    "ads_consent": "ads_consent",
    "ip_address": "form_ip_address",
    "user_agent": "form_user_agent",
    "legacy_deal_id": "legacy_crm_deal_id",
    # the first touch, kept by the site's tracking in properties of the portal's own
    "first_touch_epik": "first_pinterest_epik",
    "first_touch_utm_source": "first_utm_source",
    "first_touch_utm_medium": "first_utm_medium",
    "first_touch_utm_campaign": "first_utm_campaign",
    "first_touch_utm_content": "first_utm_content",
    "first_touch_pinterest_campaign_id": "first_pinterest_campaign_id",
    "first_touch_pinterest_ad_group_id": "first_pinterest_ad_group_id",
    "first_touch_pinterest_ad_id": "first_pinterest_ad_id",
}
CONTACT_CUSTOM_PROPERTIES = ("ads_consent",)  # logical names living on contacts; the others live on deals

# (id, label, [(stage id, label, probability)]); the last two stages are closed won and closed lost
PIPELINES = (
    (
        "default",
        "Sales Pipeline",
        [
            ("appointmentscheduled", "Appointment Scheduled", "0.2"),
            ("qualifiedtobuy", "Qualified To Buy", "0.4"),
            ("presentationscheduled", "Presentation Scheduled", "0.6"),
            ("decisionmakerboughtin", "Decision Maker Bought-In", "0.8"),
            ("contractsent", "Contract Sent", "0.9"),
            ("closedwon", "Closed Won", "1.0"),
            ("closedlost", "Closed Lost", "0.0"),
        ],
    ),
    (
        "75811447",
        "Wholesale",
        [
            ("142567001", "New inquiry", "0.1"),
            ("142567002", "Samples sent", "0.3"),
            ("142567003", "Quote sent", "0.6"),
            ("142567004", "Negotiation", "0.8"),
            ("142567005", "Closed won", "1.0"),
            ("142567006", "Closed lost", "0.0"),
        ],
    ),
)
ANALYTICS_SOURCES = (
    "ORGANIC_SEARCH",
    "PAID_SEARCH",
    "EMAIL_MARKETING",
    "SOCIAL_MEDIA",
    "REFERRALS",
    "OTHER_CAMPAIGNS",
    "DIRECT_TRAFFIC",
    "OFFLINE",
    "PAID_SOCIAL",
)
PORTAL_CREATED = "2021-03-04T15:26:40.124Z"


def _pipelines() -> dict[str, Any]:
    """The body of GET /crm/v3/pipelines/deals (metadata values are strings, as HubSpot sends them)."""
    results = []
    for order, (pipeline_id, label, stages) in enumerate(PIPELINES):
        created = "2021-03-04T15:26:40.124Z" if pipeline_id == "default" else "2023-09-12T08:14:05.512Z"
        results.append(
            {
                "label": label,
                "displayOrder": order,
                "id": pipeline_id,
                "stages": [
                    {
                        "label": stage_label,
                        "displayOrder": position,
                        "metadata": {
                            "isClosed": "true" if probability in ("1.0", "0.0") else "false",
                            "probability": probability,
                        },
                        "id": stage_id,
                        "createdAt": created,
                        "updatedAt": created,
                        "archived": False,
                        "writePermissions": "CRM_PERMISSIONS_ENFORCEMENT",
                    }
                    for position, (stage_id, stage_label, probability) in enumerate(stages)
                ],
                "createdAt": created,
                "updatedAt": created,
                "archived": False,
            }
        )
    return {"results": results}


def _property(
    name: str,
    label: str,
    kind: str,
    field_type: str,
    group: str,
    *,
    options: tuple[tuple[str, str], ...] = (),
    custom: bool = False,
    calculated: bool = False,
    description: str = "",
) -> dict[str, Any]:
    """One Property as GET /crm/v3/properties/{object} returns it."""
    prop: dict[str, Any] = {
        "updatedAt": "2024-11-05T10:02:33.871Z" if custom else PORTAL_CREATED,
        "createdAt": "2023-09-12T08:20:11.004Z" if custom else PORTAL_CREATED,
        "name": name,
        "label": label,
        "type": kind,
        "fieldType": field_type,
        "description": description,
        "groupName": group,
        "options": [
            {"label": option_label, "value": value, "displayOrder": order, "hidden": False}
            for order, (value, option_label) in enumerate(options)
        ],
        "displayOrder": -1,
        "calculated": calculated,
        "externalOptions": False,
        "hasUniqueValue": name == PROPERTIES["legacy_deal_id"],
        "hidden": False,
        "hubspotDefined": not custom,
        "modificationMetadata": {
            "archivable": custom,
            "readOnlyDefinition": not custom,
            "readOnlyValue": calculated,
        },
        "formField": not calculated,
    }
    if custom:
        prop["createdUserId"] = prop["updatedUserId"] = "48213307"
    if kind == "number" and name.startswith("amount"):
        prop["showCurrencySymbol"] = True
    return prop


def _properties() -> dict[str, list[dict[str, Any]]]:
    """Deal and contact property definitions: the standard ones the project reads plus this portal's custom ones."""
    booleans = (("true", "True"), ("false", "False"))
    stages = tuple((s[0], s[1]) for _, _, pipeline_stages in PIPELINES for s in pipeline_stages)
    deal, text, when = "dealinformation", ("string", "text"), ("datetime", "date")
    deals = [
        _property("amount", "Amount", "number", "number", deal),
        _property(
            "amount_in_home_currency",
            "Amount in company currency",
            "number",
            "calculation_equation",
            deal,
            calculated=True,
        ),
        _property("closedate", "Close Date", *when, deal),
        _property("createdate", "Create Date", *when, deal),
        _property(
            "deal_currency_code",
            "Currency",
            "enumeration",
            "select",
            deal,
            options=(("USD", "US Dollar"), ("EUR", "Euro")),
        ),
        _property("dealname", "Deal Name", *text, deal),
        _property("dealstage", "Deal Stage", "enumeration", "radio", deal, options=stages),
        _property(
            "hs_analytics_source",
            "Original Source Type",
            "enumeration",
            "select",
            "analyticsinformation",
            options=tuple((s, s.replace("_", " ").title()) for s in ANALYTICS_SOURCES),
            calculated=True,
        ),
        _property(
            "hs_analytics_source_data_1", "Original Source Drill-Down 1", *text, "analyticsinformation", calculated=True
        ),
        _property(
            "hs_analytics_source_data_2", "Original Source Drill-Down 2", *text, "analyticsinformation", calculated=True
        ),
        _property(
            "hs_is_closed_won", "Is Closed Won", "bool", "booleancheckbox", deal, options=booleans, calculated=True
        ),
        _property("hs_lastmodifieddate", "Last Modified Date", *when, deal, calculated=True),
        _property("hs_merged_object_ids", "Merged Deal IDs", "enumeration", "checkbox", deal, calculated=True),
        _property("hs_object_id", "Record ID", "number", "number", deal, calculated=True),
        _property(
            "pipeline", "Pipeline", "enumeration", "select", deal, options=tuple((p[0], p[1]) for p in PIPELINES)
        ),
    ]
    deals += [
        _property(f"hs_v2_date_entered_{stage_id}", f'Date entered "{label}"', *when, "deal_activity", calculated=True)
        for stage_id, label in stages
    ]
    labels = {
        "epik": "Pinterest click ID (epik)",
        "utm_source": "UTM source",
        "utm_medium": "UTM medium",
        "utm_campaign": "UTM campaign",
        "utm_content": "UTM content",
        "pinterest_campaign_id": "Pinterest campaign ID",
        "pinterest_ad_group_id": "Pinterest ad group ID",
        "pinterest_ad_id": "Pinterest ad ID",
        "ip_address": "Form IP address",
        "user_agent": "Form user agent",
        "legacy_deal_id": "Legacy CRM deal ID",
    }
    labels.update({f"first_touch_{role}": f"First touch: {labels[role]}" for role in list(labels)[:8]})
    deals += [
        _property(PROPERTIES[logical], label, *text, "pinterest_attribution", custom=True)
        for logical, label in labels.items()
    ]
    contact = "contactinformation"
    consent_options = (
        ("granted", "Granted"),
        ("denied", "Denied"),
        ("true", "Yes (legacy form)"),
        ("false", "No (legacy form)"),
    )
    contacts = [
        _property("city", "City", *text, contact),
        _property("country", "Country/Region", *text, contact),
        _property("date_of_birth", "Date of birth", *text, contact),
        _property("createdate", "Create Date", *when, contact),
        _property("email", "Email", "string", "text", contact),
        _property("firstname", "First Name", *text, contact),
        _property("gender", "Gender", *text, contact, custom=True),
        _property(
            "hs_additional_emails", "Additional email addresses", "enumeration", "checkbox", contact, calculated=True
        ),
        _property("hs_object_id", "Record ID", "number", "number", contact, calculated=True),
        _property("lastmodifieddate", "Last Modified Date", *when, contact, calculated=True),
        _property("lastname", "Last Name", *text, contact),
        _property("mobilephone", "Mobile Phone Number", "string", "phonenumber", contact),
        _property("phone", "Phone Number", "string", "phonenumber", contact),
        _property("state", "State/Region", *text, contact),
        _property("zip", "Postal Code", *text, contact),
        _property(
            PROPERTIES["ads_consent"],
            "Ads measurement consent",
            "enumeration",
            "select",
            contact,
            options=consent_options,
            custom=True,
            description="Consent to share conversions with ad platforms.",
        ),
    ]
    return {"deals": deals, "contacts": contacts}
