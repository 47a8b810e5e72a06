"""The Python snippets of the API contract (the seed), copied verbatim; test_seed_snippets runs them."""

# ruff: noqa: E501
from __future__ import annotations

QUICKSTART = r"""import requests

BASE = "https://www.ring-ready.com"
API_KEY = "rr_live_xxxxxxxx"          # from Profile → API keys
headers = {"Authorization": f"Bearer {API_KEY}"}

r = requests.get(f"{BASE}/api/v1/whoami", headers=headers)
print(r.json())
# {'user_id': 142, 'email': 'you@example.com', 'auth_method': 'api_key',
#  'api_key_prefix': 'rr_live_8f3a', 'scopes': ['read', 'write']}
"""

LIST = r"""r = requests.get(f"{BASE}/api/v1/conversations",
                 headers=headers,
                 params={"channel": "web_chat", "limit": 20})

data = r.json()
for c in data["conversations"]:
    print(c["started_at"], "·", c["label"], "·", c["summary"])

# next page:
if data["next_before_id"]:
    more = requests.get(f"{BASE}/api/v1/conversations", headers=headers,
                        params={"before_id": data["next_before_id"]}).json()
"""

DETAIL = r"""convo = requests.get(f"{BASE}/api/v1/conversations/184", headers=headers).json()
for turn in convo["transcript"]:
    print(f"{turn['role']}: {turn['content']}")
"""

AGENTS = r"""agents = requests.get(f"{BASE}/api/v1/agents", headers=headers).json()["agents"]
# [{"id": 7, "phone_number": "+15551234567", "agent_name": "Ava",
#   "business_name": "Acme Plumbing", "subscription_type": "growth",
#   "created_at": "2026-01-12T09:30:00Z"}]
"""

PATCH = r"""r = requests.patch(f"{BASE}/api/v1/agents/7",
                   headers=headers,
                   json={
                       "agent_goal": "Qualify the caller, then book a consultation.",
                       "greeting_message": "Thanks for calling Acme Plumbing — how can I help?",
                       "faq": {
                           "Do you offer free estimates?": "Yes — free, no-obligation estimates on every job.",
                           "What are your hours?": "We answer 24/7, including weekends and holidays.",
                           "Do you handle emergencies?": "Yes — we dispatch same-day for emergencies.",
                       },
                   })

print(r.json())
# {'id': 7, 'updated': ['agent_goal', 'greeting_message', 'faq']}
"""

FULL_EXAMPLE = r"""import requests, json
from anthropic import Anthropic

BASE = "https://www.ring-ready.com"
RR = {"Authorization": "Bearer rr_live_xxxxxxxx"}
claude = Anthropic()
AGENT_ID = 7

# 1. Pull the last 50 conversations for this agent
convos = requests.get(f"{BASE}/api/v1/conversations", headers=RR,
                      params={"agent_id": AGENT_ID, "limit": 50}).json()["conversations"]

# 2. Fetch each transcript
transcripts = []
for c in convos:
    full = requests.get(f"{BASE}/api/v1/conversations/{c['id']}", headers=RR).json()
    transcripts.append(full["transcript"])

# 3. Ask Claude for recurring questions the agent answered poorly,
#    with a drafted FAQ answer for each
prompt = (
    f"Here are {len(transcripts)} receptionist transcripts. "
    "Find the 5 most common questions callers asked that the agent did NOT answer well. "
    'Return JSON: [{"question": ..., "answer": ...}].\n\n'
    + json.dumps(transcripts)[:50000]
)
reply = claude.messages.create(
    model="claude-sonnet-4-6", max_tokens=1500,
    messages=[{"role": "user", "content": prompt}],
)
additions = json.loads(reply.content[0].text)

# 4. Merge into the agent's FAQ and write it back
agent = requests.get(f"{BASE}/api/v1/agents/{AGENT_ID}", headers=RR).json()
faq = agent.get("faq") or {}
for item in additions:
    faq[item["question"]] = item["answer"]

requests.patch(f"{BASE}/api/v1/agents/{AGENT_ID}", headers=RR, json={"faq": faq})
print(f"Added {len(additions)} answers to the FAQ.")
"""

ALL = {
    "quickstart": QUICKSTART,
    "list": LIST,
    "detail": DETAIL,
    "agents": AGENTS,
    "patch": PATCH,
    "full_example": FULL_EXAMPLE,
}
SEED_BASE = "https://www.ring-ready.com"
SEED_KEY = "rr_live_xxxxxxxx"
