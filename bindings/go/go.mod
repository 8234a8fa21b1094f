// SPDX-License-Identifier: MIT
module smtpc

go 1.19
