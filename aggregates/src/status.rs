//! The statuses of the aggregates' entities as eHealth writes them, each text given once
//! (`status_enum!`). Each aggregate's module re-exports its own; the service lists them all in its
//! OpenAPI enums and data dictionary.

status_enum! {
    /// `status` of a service request. `completed`, `recalled` and
    /// `entered_in_error` are final.
    pub enum ServiceRequestStatus {
        Active = "active",
        InProgress = "in_progress",
        Completed = "completed",
        Recalled = "recalled",
        EnteredInError = "entered_in_error",
    }
}

status_enum! {
    /// `program_processing_status`, present only for service requests with a medical program.
    pub enum ProgramProcessingStatus {
        New = "new",
        InQueue = "in_queue",
        InProgress = "in_progress",
        Completed = "completed",
    }
}

status_enum! {
    /// `status` of a merge request, written upper-case as the MPI writes it.
    pub enum MergeRequestStatus {
        New = "NEW",
        Approved = "APPROVED",
        Rejected = "REJECTED",
        Cancelled = "CANCELLED",
        Signed = "SIGNED",
        Merged = "MERGED",
        Expired = "EXPIRED",
    }
}

status_enum! {
    /// `status` of a device dispense, written lower-case as eHealth writes it.
    pub enum DeviceDispenseStatus {
        InProgress = "in_progress",
        Completed = "completed",
        Declined = "declined",
        Stopped = "stopped",
        EnteredInError = "entered_in_error",
        Unknown = "unknown",
        Preparation = "preparation",
        Canceled = "canceled",
    }
}

status_enum! {
    /// `status` of an approval.
    pub enum ApprovalStatus {
        New = "new",
        Active = "active",
        Rejected = "rejected",
        Cancelled = "cancelled",
        Expired = "expired",
    }
}

status_enum! {
    /// `status` of a care plan activity, stored lower-case as eHealth stores it. `completed`,
    /// `cancelled` and `entered_in_error` are final.
    pub enum CarePlanActivityStatus {
        Scheduled = "scheduled",
        InProgress = "in_progress",
        Completed = "completed",
        Cancelled = "cancelled",
        EnteredInError = "entered_in_error",
    }
}
