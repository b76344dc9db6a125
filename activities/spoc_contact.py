"""The area's figures for the SPOCs' monthly contact (P4.1), from the read model."""

from sqlalchemy import Engine, func
from sqlmodel import Session, col, or_, select
from temporalio import activity

from models.offences import OFFENCES, Offence
from models.spoc import AreaFigures, AreaMonth
from models.tables import CaseRow, HistoryRow


class SpocContactActivities:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    @activity.defn(name="area_figures")
    def area_figures(self, period: AreaMonth) -> AreaFigures:
        in_area = or_(col(CaseRow.police_area) == period.area, col(CaseRow.cps_area) == period.area)
        in_month = (col(HistoryRow.at) >= period.month_start) & (col(HistoryRow.at) < period.month_end)
        with Session(self._engine) as session:
            def count(*actions: str, where=None) -> int:  # type: ignore[no-untyped-def]
                query = (select(func.count(func.distinct(HistoryRow.reference)))
                         .join(CaseRow, col(CaseRow.reference) == col(HistoryRow.reference))
                         .where(in_area, in_month, col(HistoryRow.action).in_(actions)))
                if where is not None:
                    query = query.where(where)
                return int(session.exec(query).one())

            charged_rows = session.exec(
                select(CaseRow.charges).join(HistoryRow, col(CaseRow.reference) == col(HistoryRow.reference))
                .where(in_area, in_month, col(HistoryRow.state_after) == "preparation",
                       col(HistoryRow.action) == "make_charging_decision")).all()
            kinds = [{OFFENCES[Offence(c)] for c in row.split(",") if c} for row in charged_rows]
            overdue = session.exec(select(func.count()).select_from(CaseRow)
                                   .where(in_area, col(CaseRow.overdue))).one()
            return AreaFigures(
                area=period.area, month=f"{period.month_start:%Y-%m}",
                reported=count("open_case"), referred=count("refer_to_cps"),
                charged=len(charged_rows),
                charged_stalking=sum(1 for k in kinds if any(i.stalking for i in k)),
                charged_harassment=sum(1 for k in kinds if any(i.harassment for i in k)
                                       and not any(i.stalking for i in k)),
                prosecutions_concluded=count("record_verdict", "enter_pleas", "accept_lesser_plea",
                                             "discontinue"),
                orders_made=count("make_restraining_order", "revoke_and_replace_order"),
                overdue_deadlines=int(overdue))
