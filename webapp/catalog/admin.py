"""Staff manage models here (uploads and validation arrive with the model-management issue)."""

from django.contrib import admin

from .models import LanguageModel


@admin.register(LanguageModel)
class LanguageModelAdmin(admin.ModelAdmin):
    list_display = ("name", "slug", "status", "enabled", "is_default", "parameters", "block_size")
    list_filter = ("status", "enabled")
    search_fields = ("name", "slug")
    readonly_fields = (
        "status",
        "status_reason",
        "source_format",
        "n_layer",
        "n_head",
        "n_embd",
        "block_size",
        "vocab_size",
        "parameters",
        "created_at",
        "updated_at",
    )
