"""Workflow templates (app/services/templates.py): the public Jinja2 sandbox escapes are refused
and leak nothing, pathological templates fail fast and small, ordinary templates render as
they always did, and a refused template in a published workflow becomes an incident."""

from __future__ import annotations

import time
import tracemalloc
from datetime import UTC, datetime
from typing import Any

import pytest
from jinja2 import TemplateError, TemplateSyntaxError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from app.services import outbox, templates
from app.services.outbox import tick
from app.services.templates import MAX_OUTPUT, MAX_SOURCE, TemplateRefused, render
from tests.app.test_channels import linear, notify_step, open_incidents, open_nodes, publish, rows
from tests.app.test_channels import start as start_instance

SECRET = "sk_live_do_not_leak"

CONTEXT: dict[str, Any] = {
    "customer": {"name": "Ada", "email": "ada@example.com", "_id": "c-1", "__typename": "User"},
    "items": [{"sku": "MUG-01", "qty": 2, "price": 4.5}, {"sku": "CAP-02", "qty": 1, "price": 12}],
    "total": 21.456,
    "x": 1,
    "settings": {"payment_url": "https://pay.example", "token": SECRET},
}


def refusal(template: str) -> TemplateRefused:
    with pytest.raises(TemplateRefused) as refused:
        render(template, CONTEXT)
    return refused.value


# --- escapes --------------------------------------------------------------------------------

ESCAPES = [
    # the subclasses walk, in its usual spellings
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ ''.__class__.mro()[1].__subclasses__() }}",
    "{{ [].__class__.__base__.__subclasses__() }}",
    "{{ ().__class__.__bases__[0].__subclasses__() }}",
    "{% for c in [].__class__.__base__.__subclasses__() %}{{ c.__name__ }}{% endfor %}",
    "{{ ''.__class__ }}",
    "{{ x.__class__ }}",
    "{{ customer.__class__.__init__ }}",
    "{{ customer.__dict__ }}",
    # Jinja2's own globals
    "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
    "{{ joiner.__init__.__globals__.os.popen('id').read() }}",
    "{{ namespace.__init__.__globals__.os.popen('id').read() }}",
    "{{ lipsum.__globals__['os'].popen('id').read() }}",
    "{{ range.__globals__ }}",
    "{{ namespace.mro() }}",
    "{{ dict.mro()[1].__subclasses__() }}",
    # the template itself, and Flask's names (not here, but the payloads are the usual ones)
    "{{ self }}",
    "{{ self.__dict__ }}",
    "{{ self._TemplateReference__context }}",
    "{{ self._TemplateReference__context.cycler.__init__.__globals__.os }}",
    "{{ self.__init__.__globals__.__builtins__ }}",
    "{{ config.__class__.__init__.__globals__['os'].popen('id').read() }}",
    "{{ config.items() }}{{ config.__class__.from_envvar.__globals__ }}",
    "{{ request.application.__globals__.__builtins__.__import__('os').popen('id').read() }}",
    "{{ request|attr('application')|attr('__globals__') }}",
    # attr() and subscripts, with the name written out, escaped, or built at run time
    "{{ x|attr('__class__') }}",
    r"{{ x|attr('\x5f\x5fclass\x5f\x5f') }}",
    r"{{ request|attr('application')|attr('\x5f\x5fglobals\x5f\x5f') }}",
    "{{ x|attr('_' ~ '_class__') }}",
    "{{ x['__class__'] }}",
    "{{ x['_' ~ '_class__'] }}",
    "{{ range|attr('_' ~ '_globals__') }}",
    "{{ items|map(attribute='__class__')|list }}",
    "{{ items|map(attribute='_' ~ '_class__')|list }}",
    "{{ items|sort(attribute='_' ~ '_class__') }}",
    "{{ items|selectattr('_' ~ '_class__')|list }}",
    "{{ items|groupby('_' ~ '_class__') }}",
    "{{ items|sum(attribute='_' ~ '_class__') }}",
    "{{ items|join(',', attribute='_' ~ '_class__') }}",
    # str.format and format_map reach attributes by themselves
    "{{ '{0.__class__}'.format(x) }}",
    "{{ '{0.__class__.__mro__}'.format(x) }}",
    "{{ '{0[__class__]}'.format(x) }}",
    "{{ '{a.__class__}'.format_map({'a': x}) }}",
    "{{ ('{0.' ~ '_' ~ '_globals__}').format(range) }}",
    # other templates, and changing the data
    "{% include '/etc/passwd' %}",
    "{% import 'os' as os %}",
    "{% from 'x' import y %}",
    "{% extends 'base.html' %}",
    "{{ items.append(1) }}",
    "{% set _ = customer.update({'name': 'Eve'}) %}",
    # functions printed tell where Python keeps them
    "{{ range }}",
    "{{ cycler.next }}",
    "{{ 'a' ~ dict }}",
]


@pytest.mark.parametrize("template", ESCAPES)
def test_a_template_cannot_reach_python_internals(template: str) -> None:
    refused = refusal(template)
    message = str(refused)
    assert message  # says what was refused
    for leak in (SECRET, "<class", "0x", "popen", "subclasses'>", "Environment"):
        assert leak not in message


@pytest.mark.parametrize(
    ("template", "named"),
    [
        ("{{ ''.__class__ }}", "'__class__'"),
        ("{{ cycler.__init__.__globals__ }}", "'__init__'"),
        ("{{ x|attr('_' ~ '_class__') }}", "'__class__'"),
        ("{{ '{0.__class__}'.format(x) }}", "'__class__'"),
        ("{{ namespace.mro() }}", "'mro'"),
        ("{% include 'x' %}", "include"),
        ("{{ self }}", "'self'"),
        ("{{ items.append(1) }}", "'append'"),
    ],
)
def test_a_refusal_names_what_was_refused(template: str, named: str) -> None:
    assert named in str(refusal(template))


@pytest.mark.parametrize(
    "template",
    ["{{ ''.__class__ }}", "{{ x|attr('__class__') }}", "{{ '{0.__class__}'.format(x) }}"],
)
def test_an_unsafe_attribute_is_refused_where_jinja_alone_renders_nothing(template: str) -> None:
    # Jinja2's sandbox renders these as empty text: a designer would never learn why
    assert ImmutableSandboxedEnvironment().from_string(template).render(CONTEXT) == ""
    with pytest.raises(TemplateRefused):
        render(template, CONTEXT)


def test_a_refusal_is_a_template_error_for_the_outbox_and_a_value_error() -> None:
    refused = refusal("{{ ''.__class__ }}")
    assert isinstance(refused, TemplateError)
    assert isinstance(refused, ValueError)


def test_customer_data_is_text_never_a_template() -> None:
    hostile = {"customer": {"name": "{{ ''.__class__ }}{% include 'x' %}<script>x</script>"}}
    rendered = render("Hello {{ customer.name }}", hostile)
    assert rendered == "Hello {{ ''.__class__ }}{% include 'x' %}<script>x</script>"


# --- pathological templates -----------------------------------------------------------------

PATHOLOGICAL = [
    "{{ 'a' * 10**9 }}",
    "{{ 10 ** (10 ** 10) }}",  # Jinja2's ** is left-associative: 10 ** 10 ** 10 is 10 ** 100
    "{{ 2 ** 4097 }}",
    "{% set ns = namespace(x=2) %}{% for i in range(100) %}{% set ns.x = ns.x * ns.x %}{% endfor %}",
    "{{ 10.0 ** 400 }}",
    "{{ range(10**9)|list }}",
    "{{ range(10**6) }}",
    "{{ 'x'|center(10**9) }}",
    "{{ 'x'|indent(10**9) }}",
    "{{ ('x\n' * 100000)|indent(100) }}",
    "{{ 'x'.ljust(10**9) }}",
    "{{ 'x'.zfill(10**9) }}",
    "{{ '\t'.expandtabs(10**9) }}",
    "{{ (1).to_bytes(10**9, 'big') }}",
    "{{ '%s' * 10**8 }}",
    "{{ ('%100000s' * 10000) % ((1,) * 10000) }}",
    "{{ '%.*f' % (10**9, 1.0) }}",
    "{{ '%1000000000s'|format(1) }}",
    "{{ '{:1000000000}'.format(1) }}",
    "{{ '{:{}}'.format('x', 10**9) }}",
    "{{ ('{:100000}' * 10000).format(*range(10000)) }}",
    "{% set s = 'x' * 900000 %}{{ '{0}{0}'.format(s) }}",
    "{% set s = 'x' * 900000 %}{{ '%(a)s%(a)s' % {'a': s} }}",
    "{{ ('x' * 100000).replace('x', 'yyyyyyyyyyyy') }}",
    "{{ ('x' * 100000)|replace('x', 'yyyyyyyyyyyy') }}",
    "{{ ('x' * 100000)|replace('', 'yyyyyyyyyyyy') }}",
    "{% set s = 'x' * 100000 %}{{ [s] * 1000 }}",
    "{% set s = 'x' * 500000 %}{% set a = [s, s, s] %}{{ a|length }}",
    "{% set s = 'x' * 300000 %}{{ dict(a=s, b=s, c=s, d=s) }}",
    "{{ {}.fromkeys(range(100000), 'x' * 100) }}",
    "{% set ns = namespace(s='x') %}{% for i in range(64) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}",
    "{% set ns = namespace(s='x') %}{% for i in range(64) %}{% set ns.s = ns.s + ns.s %}{% endfor %}",
    "{% set ns = namespace(l=[0]) %}{% for i in range(64) %}{% set ns.l = ns.l + ns.l %}{% endfor %}",
    "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
    "{% set r = range(100000) %}{% for i in r %}{% for j in r %}{{ j }}{% endfor %}{% endfor %}",
    "{% for i in range(100000) %}{% for j in range(100000) %}x{% endfor %}{% endfor %}",
    "{% macro m() %}{% for i in range(100000) %}{{ 'x' * 1000 }}{% endfor %}{% endmacro %}{{ m() }}",
    "{% set b %}{% for i in range(90000) %}xxxxxxxxxxxxxxxxxxxx{% endfor %}{% endset %}{{ b|length }}",
    "{% filter upper %}{% for i in range(90000) %}xxxxxxxxxxxxxxx{% endfor %}{% endfilter %}",
    "{% macro m(n) %}{% if n %}{{ m(n - 1) }}{{ m(n - 1) }}{% endif %}{% endmacro %}{{ m(40) }}",
    "{% macro m() %}{{ m() }}{% endmacro %}{{ m() }}",
    "{{ ','.join(range(100000)|map('string')) }}",
    "{{ range(100000)|join(',') }}",
    "{{ [1]|batch(10**9, 0)|list }}",
    "{{ []|slice(10**9)|list }}",
    "{{ ([[0]] * 20000)|sum(start=[]) }}",
    "{{ ('x' * 50000)|wordwrap(1) }}",
    "{{ 'x y'|wordwrap(1, wrapstring='w' * 900000) }}",
    "{{ ('a ' * 50000)|urlize }}",
    "{{ [[[[[[[[[[1]]]]]]]]]]|tojson(indent=200000) }}",
    "{{ 'x' * 200000 }}",
    "{% for i in range(10) %}{% set y = 'x' * 900000 %}{% endfor %}",
    "{{ x }}" * (MAX_SOURCE // 7 + 1),
    "{{ " + "(" * 3000 + "1" + ")" * 3000 + " }}",
    "{% for a in x %}" * 40 + "{% endfor %}" * 40,
]


@pytest.mark.parametrize("template", PATHOLOGICAL)
def test_a_pathological_template_is_refused_within_a_second(template: str) -> None:
    started = time.thread_time()  # processor time: other work on the machine does not count
    with pytest.raises(TemplateRefused):
        render(template, CONTEXT)
    assert time.thread_time() - started < 1.0


@pytest.mark.parametrize("template", PATHOLOGICAL)
def test_a_pathological_template_is_refused_in_little_memory(template: str) -> None:
    tracemalloc.start()
    try:
        with pytest.raises(TemplateRefused):
            render(template, CONTEXT)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 48 * 1024 * 1024


def test_a_template_that_runs_past_its_time_is_stopped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(templates, "MAX_SECONDS", 0.0)
    refused = refusal("{% for i in range(100) %}{{ i }}{% endfor %}")
    assert "takes too long" in str(refused)


def test_the_output_stops_at_its_limit_without_being_built_whole() -> None:
    template = "{% for i in range(20000) %}{{ 'x' * 1000 }}{% endfor %}"
    refused = refusal(template)
    assert f"more than {MAX_OUTPUT:,} characters" in str(refused)


def test_every_string_of_one_value_shares_one_budget() -> None:
    busy = "{% for i in range(15000) %}{% endfor %}done"
    assert render(busy, {}) == "done"
    with pytest.raises(TemplateRefused, match="does too much"):
        render({"a": busy, "b": [busy]}, {})


# --- ordinary templates ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("Hello {{ customer.name }}", "Hello Ada"),
        ("{{ customer.name|upper }} {{ customer.phone|default('no phone') }}", "ADA no phone"),
        ("{{ total|round(2) }} {{ total|round(1, 'floor') }} {{ total|int }}", "21.46 21.4 21"),
        ("{% for i in items %}{{ i.sku|lower }} x{{ i.qty }};{% endfor %}", "mug-01 x2;cap-02 x1;"),
        ("{% for i in items %}{{ loop.index }}/{{ loop.length }} {% endfor %}", "1/2 2/2 "),
        ("{{ items|map(attribute='sku')|join(', ') }}", "MUG-01, CAP-02"),
        ("{{ items|sum(attribute='qty') }} {{ items|length }}", "3 2"),
        ("{{ items[0].qty * items[0].price + items[1].price }}", "21.0"),
        ("{{ '%.2f'|format(total) }} {{ '%s-%s'|format('a', 'b') }}", "21.46 a-b"),
        ("{{ '{:>6}|{:.1f}'.format('ab', total) }}", "    ab|21.5"),
        ("{{ 'Order ' ~ x ~ ' of ' ~ items|length }}", "Order 1 of 2"),
        ("{{ 2 ** 10 }} {{ 7 % 3 }} {{ 'ab' * 3 }} {{ [1] + [2] }}", "1024 1 ababab [1, 2]"),
        ("{{ {'a': [1, (2, 3)]} }}", "{'a': [1, (2, 3)]}"),
        (
            "{{ items|tojson }}",
            '[{"price": 4.5, "qty": 2, "sku": "MUG-01"}, {"price": 12, "qty": 1, "sku": "CAP-02"}]',
        ),
        (
            "{% set ns = namespace(n=0) %}{% for i in items %}{% set ns.n = ns.n + i.qty %}"
            "{% endfor %}{{ ns.n }}",
            "3",
        ),
        (
            "{% macro line(i) %}[{{ i.sku }}]{% endmacro %}{% for i in items %}{{ line(i) }}"
            "{% endfor %}",
            "[MUG-01][CAP-02]",
        ),
        ("{% set greeting %}Hi {{ customer.name }}{% endset %}{{ greeting|upper }}", "HI ADA"),
        ("{{ customer._id }} {{ customer.__typename }}", "c-1 User"),  # payloads' own keys
        ("{{ missing }}|{{ missing|default('-') }}", "|-"),
        ("{{ settings.payment_url }}/captures", "https://pay.example/captures"),
        ("{{ range(3)|list }} {{ 'a b'|wordwrap(1) }} {{ 'x'|center(5) }}", "[0, 1, 2] a\nb   x  "),
        ("{% if total > 20 %}big{% else %}small{% endif %}", "big"),
    ],
)
def test_an_ordinary_template_renders_as_before(template: str, expected: str) -> None:
    assert render(template, CONTEXT) == expected


def test_strings_inside_dicts_and_lists_are_rendered_and_the_rest_left_alone() -> None:
    body = {"to": "{{ customer.email }}", "lines": ["{{ x }}", 2, None], "n": 3.5}
    assert render(body, CONTEXT) == {"to": "ada@example.com", "lines": ["1", 2, None], "n": 3.5}


def test_a_string_without_a_brace_is_not_a_template_however_long() -> None:
    text = "plain " * MAX_SOURCE
    assert render(text, CONTEXT) is text


def test_a_syntax_error_is_still_a_template_syntax_error() -> None:
    with pytest.raises(TemplateSyntaxError):
        render("{{ customer.name ", CONTEXT)


def test_a_template_is_compiled_once_and_reused() -> None:
    source = "Reused {{ customer.name }} {{ 41 + 1 }}"
    assert templates.compile_template(source) is templates.compile_template(source)
    assert render(source, CONTEXT) == "Reused Ada 42"


def test_the_outbox_renders_with_this_module() -> None:
    assert outbox.render is render


# --- end to end -----------------------------------------------------------------------------


def http_step(body: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": "call",
        "type": "http",
        "name": "Call",
        "request": {"url": "http://127.0.0.1:9/never", "body": body},
        "retry": {"attempts": 3, "backoff": "PT1S"},
        "result": "answer",
    }


@pytest.mark.parametrize("kind", ["notify", "http"])
def test_a_published_workflow_whose_template_tries_an_escape_gets_an_incident_saying_so(
    app: Any, login: Any, kind: str
) -> None:
    """An escape that only shows when it runs (a name put together from pieces): publishing
    cannot see it, the sandbox stops it at the step."""
    admin = login("admin")
    escape = "{{ (customer|attr('_' ~ '_init__')) }}"
    if kind == "notify":
        step = notify_step("inbox", "user:sam", "Your order", f"Hello {escape}")
    else:
        step = http_step(
            {"order": "{{ order_id }}", "who": "{{ customer|attr('_' ~ '_class__') }}"}
        )
    key = publish(admin, linear(f"escape-{kind}", step))
    instance_id = start_instance(admin, key)

    tick(app.state.worker, now=datetime.now(UTC))

    (incident,) = open_incidents(admin, instance_id)
    refused = "'__init__'" if kind == "notify" else "'__class__'"
    assert refused in incident["message"]
    assert "off limits" in incident["message"]
    outbox_kind = "send_notification" if kind == "notify" else "call_http"
    (row,) = rows(app, instance_id, kind=outbox_kind)
    assert row.attempts == 1  # refused for good: not tried again
    assert row.status == ("failed" if kind == "notify" else "done")  # done: answered HttpFailed
    # a notification never holds the instance up; a call that failed waits for an admin
    assert open_nodes(admin, instance_id) == (["look"] if kind == "notify" else [])


def test_an_http_template_that_does_not_render_fails_the_step_at_once(app: Any, login: Any) -> None:
    """``{{ shipment.id }}`` without a shipment renders no better the next time: the step
    fails at once (its error edge, or an incident an admin retries once the data is put
    right), instead of being tried again and left waiting."""
    admin = login("admin")
    key = publish(admin, linear("unrenderable", http_step({"label": "{{ shipment.id }}"})))
    instance_id = start_instance(admin, key)

    tick(app.state.worker, now=datetime.now(UTC))

    (incident,) = open_incidents(admin, instance_id)
    assert "does not render" in incident["message"]
    assert "shipment" in incident["message"]
    (row,) = rows(app, instance_id, kind="call_http")
    assert (row.attempts, row.status) == (1, "done")


def test_a_template_that_does_not_parse_or_names_internals_is_refused_at_publish(
    login: Any,
) -> None:
    admin = login("admin")
    draft = linear(
        "bad-templates",
        notify_step("inbox", "user:sam", "Order {{ order_id ", "{{ cycler.__init__.__globals__ }}"),
    )
    assert (
        admin.post("/api/workflows", json={"key": "bad-templates", "draft": draft}).status_code
        == 201
    )
    response = admin.post("/api/workflows/bad-templates/publish")
    assert response.status_code == 422, response.text
    found = {
        (p["node"], p["field"]): p["message"]
        for p in response.json()["error"]["details"]
        if p["code"] == "bad_template"
    }
    assert set(found) == {("tell", "subject"), ("tell", "body")}
    assert "does not parse" in found[("tell", "subject")]
    assert "'__init__'" in found[("tell", "body")]
