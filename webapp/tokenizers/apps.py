from django.apps import AppConfig


class TokenizersConfig(AppConfig):
    name = "webapp.tokenizers"
    verbose_name = "Tokenizers"
