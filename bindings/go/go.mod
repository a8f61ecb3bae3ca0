module sdruntime/bindings/go

go 1.19
