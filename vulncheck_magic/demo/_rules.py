"""``GET /v3/rules/initial-access/{type}``: demo Snort and Suricata rules.

The demo has no VulnCheck rules. It serves one hand-written rule per chosen CISA KEV CVE,
with a sid in the local range (1000000 and up) and a ``msg`` that starts with
"vulncheck-magic demo rule". The Snort rules use Snort 2.9 syntax. Both files were checked
to parse with the rule parsers of the idstools and suricataparser packages; neither was
loaded into a running Snort or Suricata.
"""

from __future__ import annotations

from vulncheck_magic.demo._http import HandlerContext, Response, error_response, text_response

RULE_MESSAGE_PREFIX = "vulncheck-magic demo rule"

# Suricata's `http.uri` is the normalised URI, which decodes %2e, so the traversal rules
# read the raw URI. Snort 2.9 names that buffer `http_raw_uri`.
SNORT_RULES = (
    'alert tcp $EXTERNAL_NET any -> $HOME_NET $HTTP_PORTS (msg:"vulncheck-magic demo rule: '
    'CVE-2021-44228 Apache Log4j JNDI lookup in request"; flow:to_server,established; '
    'content:"${jndi:"; nocase; reference:cve,2021-44228; classtype:attempted-admin; '
    "sid:1000001; rev:1;)",
    'alert tcp $EXTERNAL_NET any -> $HOME_NET $HTTP_PORTS (msg:"vulncheck-magic demo rule: '
    'CVE-2021-41773 Apache HTTP Server path traversal in URI"; flow:to_server,established; '
    'content:"/.%2e/"; nocase; http_raw_uri; reference:cve,2021-41773; '
    "classtype:web-application-attack; sid:1000002; rev:1;)",
    'alert tcp $EXTERNAL_NET any -> $HOME_NET $HTTP_PORTS (msg:"vulncheck-magic demo rule: '
    'CVE-2022-26134 Atlassian Confluence OGNL expression in URI"; flow:to_server,established; '
    'content:"/%24%7B"; nocase; http_raw_uri; reference:cve,2022-26134; '
    "classtype:attempted-admin; sid:1000003; rev:1;)",
)
SURICATA_RULES = (
    'alert http $EXTERNAL_NET any -> $HOME_NET any (msg:"vulncheck-magic demo rule: '
    'CVE-2021-44228 Apache Log4j JNDI lookup in request"; flow:established,to_server; '
    'content:"${jndi:"; nocase; reference:cve,2021-44228; classtype:attempted-admin; '
    "sid:1000001; rev:1;)",
    'alert http $EXTERNAL_NET any -> $HOME_NET any (msg:"vulncheck-magic demo rule: '
    'CVE-2021-41773 Apache HTTP Server path traversal in URI"; flow:established,to_server; '
    'http.uri.raw; content:"/.%2e/"; nocase; reference:cve,2021-41773; '
    "classtype:web-application-attack; sid:1000002; rev:1;)",
    'alert http $EXTERNAL_NET any -> $HOME_NET any (msg:"vulncheck-magic demo rule: '
    'CVE-2022-26134 Atlassian Confluence OGNL expression in URI"; flow:established,to_server; '
    'http.uri.raw; content:"/%24%7B"; nocase; reference:cve,2022-26134; '
    "classtype:attempted-admin; sid:1000003; rev:1;)",
)
RULES = {"snort": SNORT_RULES, "suricata": SURICATA_RULES}


def serve_rules(context: HandlerContext) -> Response:
    """Return the rule file for ``snort`` or ``suricata``, one rule per line."""
    rule_type = context.path_params["type"]
    rules = RULES.get(rule_type)
    if rules is None:
        return error_response(404, f"rule type '{rule_type}' not found: expected snort or suricata")
    return text_response(list(rules))
