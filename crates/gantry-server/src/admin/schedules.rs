//! ListSchedules, ActivateSchedule and DeactivateSchedule: a request converted, the engine called, the result
//! converted.

use gantry_core::model::Identifier;
use gantry_engine::ScheduleRecord;
use gantry_proto::convert::required;
use gantry_proto::v1 as pb;
use tonic::{Request, Response, Status};

use super::AdminApi;
use crate::audit::{self, Audited};
use crate::auth::rules::Access;
use crate::edge;
use crate::records::timestamp;
use crate::status::IntoStatus;

impl AdminApi {
    pub(super) async fn list_schedules_of(
        &self,
        request: Request<pb::ListSchedulesRequest>,
    ) -> Result<Response<pb::ListSchedulesResponse>, Status> {
        let access = Access::of(&request);
        let r = request.into_inner();
        edge::project_or_domain("project", &r.project)?;
        edge::project_or_domain("domain", &r.domain)?;
        if !access.lists(&r.project) {
            return Ok(Response::new(pb::ListSchedulesResponse::default()));
        }
        let schedules = self.engine.list_schedules(&r.project, &r.domain).await.or_status()?;
        Ok(Response::new(pb::ListSchedulesResponse {
            schedules: schedules.into_iter().map(state).collect(),
        }))
    }

    /// ActivateSchedule (`active`) or DeactivateSchedule.
    pub(super) async fn set_schedule_of(
        &self,
        access: Access,
        audited: Audited,
        launch_plan: Option<pb::Identifier>,
        active: bool,
    ) -> Result<pb::ScheduleState, Status> {
        let result = async {
            let id: Identifier = required("launch_plan", launch_plan)?;
            access.in_project(&id.project)?;
            if active {
                // A schedule starts executions in its project: the project must take them.
                self.projects.admit(&id.project, &id.domain).await?;
            }
            let record = self.engine.set_schedule_active(id, active).await.or_status()?;
            Ok(Response::new(state(record)))
        };
        let response = self.audit.record(audited, result.await, |_, _| {}).await?;
        Ok(response.into_inner())
    }

    pub(super) async fn activate_schedule_of(
        &self,
        request: Request<pb::ActivateScheduleRequest>,
    ) -> Result<Response<pb::ActivateScheduleResponse>, Status> {
        let access = Access::of(&request);
        let audited = Audited::schedule(audit::principal(&request), request.get_ref().launch_plan.as_ref(), true);
        let launch_plan = request.into_inner().launch_plan;
        let schedule = self.set_schedule_of(access, audited, launch_plan, true).await?;
        Ok(Response::new(pb::ActivateScheduleResponse {
            schedule: Some(schedule),
        }))
    }

    pub(super) async fn deactivate_schedule_of(
        &self,
        request: Request<pb::DeactivateScheduleRequest>,
    ) -> Result<Response<pb::DeactivateScheduleResponse>, Status> {
        let access = Access::of(&request);
        let audited = Audited::schedule(
            audit::principal(&request),
            request.get_ref().launch_plan.as_ref(),
            false,
        );
        let launch_plan = request.into_inner().launch_plan;
        let schedule = self.set_schedule_of(access, audited, launch_plan, false).await?;
        Ok(Response::new(pb::DeactivateScheduleResponse {
            schedule: Some(schedule),
        }))
    }
}

fn state(record: ScheduleRecord) -> pb::ScheduleState {
    pb::ScheduleState {
        launch_plan: Some(record.launch_plan.into()),
        schedule: Some(record.schedule.into()),
        active: record.active,
        next_ticks: record.next_ticks.into_iter().map(timestamp).collect(),
        last_tick: record.last_tick.map(timestamp),
        changed_at: Some(timestamp(record.changed_at)),
    }
}
