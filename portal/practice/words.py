"""The default profile's own words in the portal's other shipped languages.

A practice gives its own words per language in ``[translations.<tag>]`` (English text ->
translation); these cover the defaults (specialties, topics, notice titles), so a practice that
keeps them has them translated, and its own table is laid over them. Like the catalogues, they
must be reviewed by a qualified translator before a practice goes live (docs/translating.md).
"""

from __future__ import annotations

DEFAULT_TRANSLATIONS: dict[str, dict[str, str]] = {
    "es": {
        "Total hip replacement": "Reemplazo total de cadera",
        "Total knee replacement": "Reemplazo total de rodilla",
        "Total shoulder replacement": "Reemplazo total de hombro",
        "Other or not sure": "Otro o no estoy seguro",
        "General question": "Pregunta general",
        "Billing": "Facturación",
        "Medical records": "Expedientes médicos",
        "Feedback": "Comentarios",
        "Notice of Nondiscrimination": "Aviso de no discriminación",
        "Notice of Privacy Practices": "Aviso de prácticas de privacidad",
        "Terms of Service": "Condiciones del servicio",
        "Internet Privacy Policy": "Política de privacidad en internet",
        "Billing Disclosure": "Información sobre facturación",
    },
    "pt-BR": {
        "Total hip replacement": "Artroplastia total de quadril",
        "Total knee replacement": "Artroplastia total de joelho",
        "Total shoulder replacement": "Artroplastia total de ombro",
        "Other or not sure": "Outro ou não tenho certeza",
        "General question": "Dúvida geral",
        "Billing": "Cobrança",
        "Medical records": "Prontuário médico",
        "Feedback": "Opiniões e sugestões",
        "Notice of Nondiscrimination": "Aviso de não discriminação",
        "Notice of Privacy Practices": "Aviso de práticas de privacidade",
        "Terms of Service": "Termos de serviço",
        "Internet Privacy Policy": "Política de privacidade na internet",
        "Billing Disclosure": "Informações sobre cobrança",
    },
}
