"""Models for tests/streams/test_fastpath.py: every kind of column the plan reads."""

from django.db import models


class FastTag(models.Model):
    name = models.CharField(max_length=30, unique=True)

    class Meta:
        app_label = "testapp"


class FastAuthor(models.Model):
    code = models.CharField(max_length=10, unique=True)

    class Meta:
        app_label = "testapp"


class FastItem(models.Model):
    title = models.CharField(max_length=50)
    body = models.TextField(blank=True)
    count = models.IntegerField(default=0)
    big = models.BigIntegerField(default=2**40)
    small = models.PositiveSmallIntegerField(default=1)
    flag = models.BooleanField(default=False)
    day = models.DateField(null=True, blank=True)
    stamp = models.DateTimeField(null=True, blank=True)
    price = models.DecimalField(max_digits=6, decimal_places=2, default=0)
    nickname = models.CharField(max_length=20, null=True, blank=True)
    author = models.ForeignKey(FastAuthor, null=True, blank=True, on_delete=models.SET_NULL)
    author_by_code = models.ForeignKey(
        FastAuthor,
        to_field="code",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    tags = models.ManyToManyField(FastTag, blank=True, related_name="items")

    class Meta:
        app_label = "testapp"

    @property
    def shout(self) -> str:
        return self.title.upper()


class FastSpecialItem(FastItem):
    """Multi-table child: its instances are not exactly FastItem, so DRF serves them."""

    extra = models.CharField(max_length=10, default="x")

    class Meta:
        app_label = "testapp"
