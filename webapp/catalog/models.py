"""The registry of language models that students can choose from."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models


class LanguageModelQuerySet(models.QuerySet):
    def available(self) -> LanguageModelQuerySet:
        """Models a student may use: enabled and validated."""
        return self.filter(enabled=True, status=LanguageModel.Status.READY)

    def for_students(self) -> list[LanguageModel]:
        """Available models, the default first, then by name."""
        return sorted(self.available(), key=lambda m: (not m.is_default, m.name.lower()))

    def default(self) -> LanguageModel | None:
        available = self.available()
        return available.filter(is_default=True).first() or available.order_by("name").first()


class LanguageModel(models.Model):
    """One model bundle on disk, the facts validation learned about it, and its limits."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending validation"
        READY = "ready", "Ready"
        FAILED = "failed", "Failed validation"

    slug = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=120)
    description = models.TextField(blank=True)
    # folder under GLASSBOX["MODELS_DIR"]; never a public URL
    directory = models.CharField(max_length=255)
    enabled = models.BooleanField(default=True)
    is_default = models.BooleanField(default=False)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    status_reason = models.TextField(blank=True)

    # facts filled in by validation
    sha256 = models.CharField(max_length=64, blank=True, help_text="Checksum of the files.")
    file_size = models.PositiveBigIntegerField(null=True, blank=True, help_text="Bytes on disk.")
    source_format = models.CharField(max_length=32, blank=True)
    tokenizer_kind = models.CharField(max_length=32, blank=True)
    n_layer = models.PositiveIntegerField(null=True, blank=True)
    n_head = models.PositiveIntegerField(null=True, blank=True)
    n_embd = models.PositiveIntegerField(null=True, blank=True)
    block_size = models.PositiveIntegerField(null=True, blank=True)
    vocab_size = models.PositiveIntegerField(null=True, blank=True)
    parameters = models.PositiveBigIntegerField(null=True, blank=True)

    # per-model limits
    max_new_tokens = models.PositiveIntegerField(
        default=200, validators=[MinValueValidator(1), MaxValueValidator(4096)]
    )
    max_prompt_tokens = models.PositiveIntegerField(
        null=True, blank=True, help_text="Empty: the model's context length minus one."
    )

    # the last load-and-generate check a worker ran, for the admin to read
    check_output = models.TextField(blank=True)
    checked_at = models.DateTimeField(null=True, blank=True)

    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = LanguageModelQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        permissions = [("manage_models", "Can manage language models")]
        constraints = [
            models.UniqueConstraint(
                fields=["is_default"],
                condition=models.Q(is_default=True),
                name="one_default_language_model",
            )
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def path(self) -> Path:
        return Path(settings.GLASSBOX["MODELS_DIR"]) / self.directory

    @property
    def prompt_token_limit(self) -> int:
        context_limit = (self.block_size or 1) - 1
        if self.max_prompt_tokens:
            return max(1, min(self.max_prompt_tokens, context_limit))
        return max(1, context_limit)

    def public_facts(self) -> dict:
        """What the playground page and the websocket tell a student about this model."""
        return {
            "slug": self.slug,
            "name": self.name,
            "description": self.description,
            "n_layer": self.n_layer,
            "n_head": self.n_head,
            "n_embd": self.n_embd,
            "block_size": self.block_size,
            "vocab_size": self.vocab_size,
            "parameters": self.parameters,
            "max_new_tokens": self.max_new_tokens,
            "max_prompt_tokens": self.prompt_token_limit,
            "is_default": self.is_default,
        }
