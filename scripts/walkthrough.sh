#!/usr/bin/env bash
# The README's walkthrough: one stalking case from report to restraining order, over HTTP.
# Needs `make run` going in another terminal.
set -euo pipefail
API=${API:-http://127.0.0.1:8000}
export CASES_NEW_USER_PASSWORD=${CASES_NEW_USER_PASSWORD:-walkthrough-password}
for user in "oic officer_in_case" "cps prosecutor"; do
  set -- $user
  .venv/bin/cases-admin create-user --username "$1" --role "$2" --area north
done
token() {
  curl -sf -X POST "$API/auth/token" -d "username=$1&password=$CASES_NEW_USER_PASSWORD" |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["access_token"])'
}
OIC=$(token oic)
CPS=$(token cps)
REF=WALK-$(date +%s)

act() {  # act <token> <json body>: one action on the case
  curl -s -X POST "$API/cases/$REF/actions" -H "Authorization: Bearer $1" \
    -H 'Content-Type: application/json' -d "$2"
  echo
}

# 1. The officer opens the case: one complainant, one suspect, stalking behaviour.
curl -s -X POST "$API/cases" -H "Authorization: Bearer $OIC" -H 'Content-Type: application/json' -d '{
  "reference": "'"$REF"'", "police_area": "north", "cps_area": "north",
  "stalking": true, "domestic_abuse": false,
  "suspects": [{"suspect_id": "S1", "name": "J. Smith", "date_of_birth": "1983-04-02"}],
  "complainants": [{"complainant_id": "C1", "name": "A. Person"}],
  "offences": ["pha1997_s4a"]}'
echo

# 2. Referring before a risk assessment is refused: 409, rule P3.7, nothing changes.
act "$OIC" '{"action": {"kind": "refer_to_cps", "statements": 3, "risk_documentation": true}}'

# 3. Risk assessment, contact details (P6.4), then the referral (P4.5).
act "$OIC" '{"action": {"kind": "record_risk_assessment", "complainant_id": "C1",
  "assessment": {"tool": "S-DASH", "level": "medium", "assessed_on": "2026-11-20", "assessor": "PC 1234"}}}'
act "$OIC" '{"action": {"kind": "record_contact_details", "complainant_id": "C1",
  "contact": {"spoc": "PC 1234", "preferred_means": "text", "safe_contact": "07700 900123"}}}'
act "$OIC" '{"action": {"kind": "refer_to_cps", "statements": 3, "risk_documentation": true}}'

# 4. The prosecutor reviews and charges s.4A with an action plan (P4.7).
act "$CPS" '{"action": {"kind": "begin_charging_review"}}'
act "$CPS" '{"action": {"kind": "make_charging_decision", "decision": "charge",
  "charges": ["pha1997_s4a"], "reasons": "Full Code Test met.",
  "action_plan": [{"item_id": "AP1", "description": "Phone download", "due_on": "2026-12-15"}]}}'

# 5. VPS before the first hearing (P6.7), guilty pleas, then the order (P9.1, P9.2).
act "$OIC" '{"action": {"kind": "record_vps", "complainant_id": "C1",
  "vps": {"taken_on": "2026-11-21", "presentation": "read by the prosecutor"}}}'
act "$CPS" '{"action": {"kind": "record_first_appearance", "on": "2026-12-01T10:00:00Z"}}'
act "$CPS" '{"action": {"kind": "enter_pleas", "guilty": true}}'
act "$OIC" '{"action": {"kind": "record_order_views", "complainant_id": "C1", "views": "No contact."}}'
act "$OIC" '{"action": {"kind": "reverify_order_details", "note": "Address confirmed."}}'
act "$CPS" '{"action": {"kind": "apply_restraining_order", "form": "MG3", "mg5_served": true,
  "draft": [{"protected_person_id": "C1", "prohibitions": ["no contact"]}]}}'
act "$CPS" '{"action": {"kind": "make_restraining_order", "orders": [{"protected_person_id": "C1",
  "conditions": ["no contact", "not to enter Smith Street"], "made_on": "2026-12-02"}]}}'

# 6. Where it stands: state, history, open deadlines.
curl -s "$API/cases/$REF" -H "Authorization: Bearer $CPS" |
  python3 -c 'import json, sys; c = json.load(sys.stdin); print(c["state"], len(c["orders"]), "order(s)")'
curl -s "$API/cases/$REF/history" -H "Authorization: Bearer $CPS" |
  python3 -c 'import json, sys; [print(h["version"], h["action"], h["actor"]["user_id"]) for h in json.load(sys.stdin)]'
curl -s "$API/cases/$REF/deadlines" -H "Authorization: Bearer $OIC" |
  python3 -c 'import json, sys; [print(d["deadline"]["rule"], d["deadline"]["kind"], d["deadline"]["due_at"]) for d in json.load(sys.stdin)]'
