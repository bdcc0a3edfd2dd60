"""The one exception a service raises when it will not do what was asked: `code` for programs,
`message` for the person (already translated), `field` for the form field at fault, if any."""


class Refused(Exception):
    def __init__(self, code: str, message: str, *, field: str | None = None):
        super().__init__(message)
        self.code, self.message, self.field = code, message, field

    def show_on(self, form) -> None:
        """Put the message on the form, at its field if the form has one by that name."""
        form.add_error(self.field if self.field in form.fields else None, self.message)
