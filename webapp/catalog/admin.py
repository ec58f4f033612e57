"""Staff manage models here: upload, validate, enable, choose the default, try, delete.

Everything needs the `catalog.manage_models` permission (superusers have it); staff
without it do not even see the section.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from . import registry
from .models import LanguageModel

PERMISSION = "catalog.manage_models"


class UploadForm(forms.Form):
    archive = forms.FileField(
        help_text="A .zip of a Glassbox bundle, or of a Hugging Face GPT-2 folder "
        "(config.json, model.safetensors, vocab.json, merges.txt)."
    )
    slug = forms.SlugField(max_length=63, help_text="Lowercase letters, digits and hyphens.")
    name = forms.CharField(max_length=120)
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)


@admin.register(LanguageModel)
class LanguageModelAdmin(admin.ModelAdmin):
    list_display = (
        "name",
        "slug",
        "status_in_words",
        "enabled",
        "is_default",
        "parameters",
        "block_size",
        "size_mb",
    )
    list_filter = ("status", "enabled")
    search_fields = ("name", "slug")
    actions = [
        "enable",
        "disable",
        "make_default",
        "revalidate",
        "try_it",
        "delete_with_files",
    ]
    fields = (
        "name",
        "slug",
        "description",
        "enabled",
        "max_new_tokens",
        "max_prompt_tokens",
        "status_in_words",
        "check_output",
        "checked_at",
        "source_format",
        "tokenizer_kind",
        "n_layer",
        "n_head",
        "n_embd",
        "block_size",
        "vocab_size",
        "parameters",
        "file_size",
        "sha256",
        "directory",
        "is_default",
        "added_by",
        "created_at",
        "updated_at",
    )
    readonly_fields = tuple(
        f
        for f in fields
        if f not in {"name", "description", "enabled", "max_new_tokens", "max_prompt_tokens"}
    )

    # -- permissions: one permission for the whole section --------------------------------
    def _may_manage(self, request) -> bool:
        return request.user.is_active and request.user.has_perm(PERMISSION)

    def has_module_permission(self, request):
        return self._may_manage(request)

    def has_view_permission(self, request, obj=None):
        return self._may_manage(request)

    def has_change_permission(self, request, obj=None):
        return self._may_manage(request)

    def has_add_permission(self, request):
        return self._may_manage(request)

    def has_delete_permission(self, request, obj=None):
        return self._may_manage(request)

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)  # ours also removes the files
        return actions

    # -- display -------------------------------------------------------------------------
    @admin.display(description="status")
    def status_in_words(self, obj: LanguageModel) -> str:
        if obj.status == LanguageModel.Status.FAILED:
            return format_html("Failed: {}", obj.status_reason)
        if obj.status == LanguageModel.Status.PENDING:
            return "Pending: a worker is loading it to check that it generates"
        return "Ready"

    @admin.display(description="size (MB)")
    def size_mb(self, obj: LanguageModel) -> str:
        return f"{obj.file_size / 2**20:.1f}" if obj.file_size else "-"

    # -- adding: an upload form instead of the model form -------------------------------
    def get_urls(self):
        upload = self.admin_site.admin_view(self.upload_view)
        return [path("upload/", upload, name="catalog_languagemodel_upload")] + super().get_urls()

    def add_view(self, request, form_url="", extra_context=None):
        return HttpResponseRedirect(reverse("admin:catalog_languagemodel_upload"))

    def upload_view(self, request):
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = UploadForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                with transaction.atomic():
                    record = registry.add_from_archive(
                        data["archive"],
                        data["slug"],
                        data["name"],
                        data["description"],
                        request.user,
                    )
            except registry.ModelRefused as exc:
                form.add_error(None, str(exc))
            else:
                self.message_user(
                    request,
                    f"{record.name} passed the file checks; a worker is now loading it. "
                    "Refresh to see its status.",
                    messages.SUCCESS,
                )
                return HttpResponseRedirect(
                    reverse("admin:catalog_languagemodel_change", args=[record.pk])
                )
        context = {
            **self.admin_site.each_context(request),
            "title": "Upload a model",
            "form": form,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/catalog/upload.html", context)

    # -- actions -------------------------------------------------------------------------
    @admin.action(description="Enable selected models")
    def enable(self, request, queryset):
        count = queryset.update(enabled=True)
        self.message_user(request, f"Enabled {count} model(s).")

    @admin.action(description="Disable selected models")
    def disable(self, request, queryset):
        count = queryset.update(enabled=False)
        self.message_user(request, f"Disabled {count} model(s); students no longer see them.")

    @admin.action(description="Make the selected model the default")
    def make_default(self, request, queryset):
        if queryset.count() != 1:
            self.message_user(request, "Select exactly one model.", messages.ERROR)
            return
        record = queryset.get()
        if record.status != LanguageModel.Status.READY or not record.enabled:
            self.message_user(
                request, "Only an enabled, ready model can be the default.", messages.ERROR
            )
            return
        registry.make_default(record)
        self.message_user(request, f"{record.name} is now the default model.")

    @admin.action(description="Re-validate selected models (a worker reloads them)")
    def revalidate(self, request, queryset):
        ids = list(queryset.values_list("pk", flat=True))
        queryset.update(status=LanguageModel.Status.PENDING, status_reason="")
        for model_id in ids:
            transaction.on_commit(lambda model_id=model_id: registry.enqueue_check(model_id))
        self.message_user(request, f"Re-validating {len(ids)} model(s) in a worker.")

    @admin.action(description="Try it: a short generation by a worker")
    def try_it(self, request, queryset):
        # The web process never waits on a worker: the result lands on the model's page.
        for record in queryset:
            registry.enqueue_check(record.pk)
        self.message_user(
            request,
            "A worker is loading the model and generating a few tokens; its output appears "
            "under 'Check output' on the model's page in a few seconds.",
        )

    @admin.action(description="Delete selected models and their files")
    def delete_with_files(self, request, queryset):
        names = [record.name for record in queryset]
        for record in queryset:
            registry.delete_model(record)
        self.message_user(request, f"Deleted {', '.join(names)} and their files.")

    def delete_model(self, request, obj):
        registry.delete_model(obj)
