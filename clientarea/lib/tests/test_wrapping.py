"""The break_domains template filter: where a long domain or email address may wrap."""

from django.template import Context, Template


def render(text: str) -> str:
    return Template("{% load wrapping %}{{ text|break_domains }}").render(Context({"text": text}))


def test_a_domain_and_an_email_address_may_wrap_after_their_dots_and_at():
    assert render("Servidor VPS · srv1.restrepogomez.com.co") == (
        "Servidor VPS · srv1.<wbr>restrepogomez.<wbr>com.<wbr>co"
    )
    assert render("contabilidad@tiendaandina.example") == (
        "contabilidad@<wbr>tiendaandina.<wbr>example"
    )


def test_amounts_and_sentences_keep_their_dots_and_the_text_is_escaped():
    assert render("Abono de $ 1.250.000. Fin") == "Abono de $ 1.250.000. Fin"
    assert render("<b>a.b</b> & c") == "&lt;b&gt;a.<wbr>b&lt;/b&gt; &amp; c"


def test_a_reference_wraps_only_between_its_words():
    rendered = Template("{% load wrapping %}{{ text|keep_words }}").render(
        Context({"text": "Pago ODS-000012-1/R1 <b>-"})
    )
    assert rendered == (
        'Pago <span class="nowrap">ODS-000012-1/R1</span> <span class="nowrap">&lt;b&gt;-</span>'
    )
