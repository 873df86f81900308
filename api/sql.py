"""Hand-written statements on the hot paths (an immediate order runs each once), for what the
ORM would spend more time compiling than the database spends running: the columns, values and
rows still come from the models, so a field added to a model is in these statements too.
Everything else uses the ORM."""

import functools

from django.db import connection
from django.db.models import Model


def column_list(model: type[Model], table: str = "") -> str:
    """Every column of the model, in field order, qualified with `table` if given."""
    qualifier = f"{table}." if table else ""
    return ", ".join(
        qualifier + connection.ops.quote_name(f.column) for f in model._meta.concrete_fields
    )


@functools.cache
def _insert_text(model: type[Model]) -> str:
    placeholders = ", ".join(["%s"] * len(model._meta.concrete_fields))
    table = connection.ops.quote_name(model._meta.db_table)
    return f"INSERT INTO {table} ({column_list(model)}) VALUES ({placeholders})"


def insert_sql(instance: Model) -> tuple[str, list]:
    """`INSERT INTO <table> (<every column>) VALUES (...)` for a new instance (its primary key
    set by its field default), and its parameters, as Model.save would send them."""
    fields = instance._meta.concrete_fields
    values = [f.get_db_prep_save(f.pre_save(instance, True), connection) for f in fields]
    return _insert_text(type(instance)), values


def insert(instance: Model) -> Model:
    """Write a new instance with one INSERT, as Model.save(force_insert=True) would, for a
    model with no save() override and no signal receivers."""
    sql, params = insert_sql(instance)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
    return saved(instance)


def saved(instance: Model) -> Model:
    """Mark an instance written by insert_sql as saved (as Model.save would)."""
    instance._state.adding = False
    instance._state.db = connection.alias
    return instance


def instance_from_row(model: type[Model], row) -> Model:
    """A model instance from a row of `SELECT <column_list(model)> ...`, with each value
    converted as a QuerySet would (the backend's and the field's converters)."""
    names, converters = _row_converters(model)
    values = []
    for value, (column, convert_all) in zip(row, converters, strict=True):
        for convert in convert_all:
            value = convert(value, column, connection)
        values.append(value)
    return model.from_db(connection.alias, names, values)


@functools.cache
def _row_converters(model: type[Model]):
    """The model's field names, and each column with its converters (the backend's, then the
    field's), as the compiler finds them for a query; the same for every row."""
    columns = []
    for field in model._meta.concrete_fields:
        column = field.get_col(model._meta.db_table)
        converters = connection.ops.get_db_converters(column) + field.get_db_converters(connection)
        columns.append((column, converters))
    return [f.attname for f in model._meta.concrete_fields], columns
